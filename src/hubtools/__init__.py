"""hubtools: from labelled social-media text to a model on the Hugging Face Hub."""

__version__ = "0.1.0"
