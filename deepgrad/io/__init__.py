"""Saving and loading: safetensors files with JSON metadata, no pickle, atomic writes, bounded reads."""

from deepgrad.io.serialization import MAX_DEPTH, SerializationError, load, load_metadata, save

__all__ = ["MAX_DEPTH", "SerializationError", "load", "load_metadata", "save"]
