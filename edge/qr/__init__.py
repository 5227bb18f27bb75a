"""QR check-in at the desk camera: decode frames (pure), turn texts into scans (pure),
and a thin ``cv2.VideoCapture`` adapter. No image ever leaves this package."""
