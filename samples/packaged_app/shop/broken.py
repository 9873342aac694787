# This file has a syntax error on purpose: the analyser must report it and analyse the rest.
def half_written(:
    return 1
