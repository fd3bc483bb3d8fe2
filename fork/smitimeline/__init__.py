# SPDX-License-Identifier: GPL-2.0-or-later
#
# The SMI timeline (fork/smi-timeline): QEMU's SMI trace events turned into
# per-vCPU SMM stays, rendezvous and a picture.  trace reads the log,
# model groups it, draw plots it.
