"""The reference client: the Max external's behaviour in Python, for tests, demos and scripted sessions."""
