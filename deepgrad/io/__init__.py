"""Saving and loading: safetensors files with JSON metadata, no pickle, atomic writes."""

from deepgrad.io.serialization import SerializationError, load, load_metadata, save

__all__ = ["SerializationError", "load", "load_metadata", "save"]
