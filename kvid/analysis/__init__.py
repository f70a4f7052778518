"""kvid.analysis: counting parameters and multiply-adds (kvid.analysis.faster: a FASTER
pattern's cost per video, Table 4), plots."""
