"""Data: sources, splits and preprocessing, fitted on the train split only.

The modules are imported one by one, so that a light one (`info`, the data's description, which
models and prediction read) does not load the readers (pandas, pyarrow, scikit-learn).

Example:
    >>> from treino.data.load import load
    >>> data = load(DataConfig(source="iris"), torch.Generator().manual_seed(0))
    >>> data.info.task
    'multiclass'
"""
