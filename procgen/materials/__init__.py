"""Stochastic shader generators, split like the geometry generators into sample/build."""
