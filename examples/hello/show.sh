#!/bin/sh
# Shows the message the build stage wrote and who runs it.
cat "$APP_HOME/message.txt"
echo "running as $(id -un) in $(pwd)"
