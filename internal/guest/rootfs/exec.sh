#!/bin/sh
# Command loop of the nicplug test guest, on the second serial port.
# Reads "TOKEN COMMAND" lines; answers "NICPLUG-X TOKEN begin", the
# command's output, then "\nNICPLUG-X TOKEN end STATUS".
stty raw -echo
echo "NICPLUG-X hello"
while read -r tok cmd; do
	echo "NICPLUG-X $tok begin"
	(eval "$cmd") </dev/null 2>&1
	printf '\nNICPLUG-X %s end %d\n' "$tok" $?
done
