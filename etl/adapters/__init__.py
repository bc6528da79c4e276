"""One module per Google service, behind the service layer's ports."""
