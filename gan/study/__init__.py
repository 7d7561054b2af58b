"""How runs compare: statistics, the failure rule, sweeps of jobs, the summary's figures. Imports every layer
below it.
"""
