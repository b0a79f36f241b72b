# Sandbox stand-in for the requests distribution: only its presence is checked.
__version__ = "0.0.0+sandbox"
