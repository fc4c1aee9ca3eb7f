"""allinone-bench: benchmark and evaluation harness for the All-in-One video-language Transformer."""

__version__ = "0.1.0"
