"""The quality domain: rules on datasets, their runs and results, the datasets' scores and profiles."""
