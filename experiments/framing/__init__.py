"""How FER2013 frames a face, and whether accuracy holds on faces our pipeline frames."""
