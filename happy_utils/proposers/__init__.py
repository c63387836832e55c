"""Proposers of the next query: the protocol (`base`), the paper's MIO over the trees (`mio`), the continuous
baseline's SLSQP over DNGO (`slsqp`) and the random floor (`random_search`)."""
