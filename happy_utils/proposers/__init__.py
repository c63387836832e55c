"""Proposers of the next query: the protocol (`base`), the paper's MIO over the trees (`mio`, handed to the solvers
as arrays by `milp`, kept on the data by `manifold`) and the random floor (`random_search`)."""
