"""The frame pipeline a clinic runs: frame (BGR) -> faces -> probabilities -> smoothed tracks.

``faces`` (detection and alignment), ``landmarks`` (MediaPipe Face Landmarker), ``tracking``
(face identity across frames), ``smoothing`` (per-track temporal smoothing), ``pipeline``
(``EmotionRecognizer``, the only place that chains the steps), ``overlay`` (drawing results),
``video`` (reading files), ``upload`` (analysing an uploaded image or video).
"""
