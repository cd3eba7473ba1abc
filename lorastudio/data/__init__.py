"""The data a run trains on: the layout of a data file and LLaMA-Factory's demo sets."""
