"""The lowest layer, imported by everything above it and importing nothing of the suite.

types (Evidence, Verdict, FaceObservation, KeyFrame, the verdict bands), video (streamed decoding,
probing, rotation), faces (tracking, landmarks, alignment), facedetect (MTCNN), quality (whether a
face can be judged: size, pose, landmark confidence; the one threshold), analyzers (the protocol every
analyzer implements, the per-frame crop cache), manifest (the test-set manifest: columns, methods,
reader and writer), checkpoint (crash-safe training checkpoints, safetensors only), atomicio (the one
atomic writer), config (JSON into checked dataclasses), version (the code-version record), metrics
(AUC, EER, ECE, bootstrap intervals), hashing, embedding, splits, paths, errors.
"""
