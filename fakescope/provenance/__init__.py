"""Registry of authentic originals: fingerprints (fingerprint), the hash-chained database (registry)
and the scan analyzer that looks a suspect video up in it (analyzer); content credentials: the
file's C2PA manifest and fakescope's own watermark (credentials)."""
