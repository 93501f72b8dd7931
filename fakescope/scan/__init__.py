"""One video -> analyzers -> fusion -> verdict, and many videos.

pipeline (scan_video: the single streamed pass, the verdict JSON), analyzers (which analyzers run,
by name), models (the trained detectors a scan may use), fusion (evidence -> calibrated verdict)
and fusion_fit (fitting it), batch (many videos: outcomes, case log, JSON and report), ray (the same
on a Ray cluster), caselog (the SQLite log of past scans).
"""
