#!/bin/sh
# Prints the greeting given as the first argument, framed.
echo "*** $1 ***"
