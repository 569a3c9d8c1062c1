"""The course's experiments as library functions: each returns a result object and never prints.

- :mod:`binary_addition`: an Elman RNN learns to add binary numbers bit by bit (sigmoid vs tanh vs ReLU).
"""
