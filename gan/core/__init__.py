"""What everything stands on: the config tree and its presets, errors and exit codes, device and threads.
"""
