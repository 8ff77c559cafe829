"""unlearn: approximate unlearning in LLMs ("Who's Harry Potter?"), composed from Hydra configs."""

__version__ = "0.1.0"
