"""Where a deployed process starts: the Cloud Functions bodies and the streaming worker."""
