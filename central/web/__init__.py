"""Views for people outside the API: the driver's route sheet (PDF) and driver page (HTML)."""
