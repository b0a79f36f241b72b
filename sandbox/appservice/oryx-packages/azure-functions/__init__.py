# Sandbox stand-in for the azure-functions distribution: only its presence is checked.
__version__ = "0.0.0+sandbox"
