#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# Init of the rbochs test guest: mount the pseudo filesystems, then run a
# shell on the serial console for the host (tools/vmtest) to drive.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mkdir -p /dev /proc /sys /tmp
mount -t devtmpfs dev /dev 2>/dev/null
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t debugfs debugfs /sys/kernel/debug
mount -t tmpfs tmp /tmp
# Keep the serial line for the host's commands; the kernel log stays
# readable with dmesg, and an oops still reaches the console.
dmesg -n 1
stty -echo 2>/dev/null
export PS1= PS2=
echo "@@RBOCHS-BOOTED $(uname -r)"
# The host's shell is a child of init, not init itself: processes orphaned by a
# command (busybox timeout leaves its watcher) are reparented to init, and an
# interactive shell as init gets their SIGCHLD while it reads a line, takes it
# for the end of input and exits, and the kernel panics ("Attempted to kill
# init"). This init only waits, and starts a new shell should one exit.
while :; do
	sh
done
