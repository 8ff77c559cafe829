"""`python -m unlearn.bench`: what each stage of the method costs, and what this framework adds.

Each stage runs twice on the same model shape, data and batches: through the code a run
uses (Lightning fine-tunes, label generation with the anchored translation and the
candidate store) and through a bare PyTorch loop doing the same arithmetic. The ratio of
their times is the framework's overhead; tokens/s against the device's peak is the model
FLOPs utilization (MFU).
"""
