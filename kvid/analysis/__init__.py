"""kvid.analysis: counting parameters and multiply-adds, plots."""
