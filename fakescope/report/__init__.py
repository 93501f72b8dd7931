"""What people read: the HTML scan report (scan_report), its HTML helpers (html) and every plot (plots)."""
