"""runtime: a folder of YAML files becomes always-on Gemini Live voice agents."""

__version__ = "0.1.0"
