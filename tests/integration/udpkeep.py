#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A client that stays up (socklb.sh's udp_destroy): what a connected
socket sees when its backend is removed.

  udpkeep.py udp HOST PORT WAIT
      connect() a UDP socket to HOST:PORT, send, read the reply
      ("peer=ADDR:PORT reply=NAME"), then block in recv() for up to WAIT
      seconds ("recv err=ECONNABORTED at=EPOCH" or "recv err=timeout"),
      send() again ("send ok" or "send err=NAME"), and connect() again to
      HOST:PORT, send and read ("again reply=NAME" or "again err=NAME").
  udpkeep.py tcp HOST PORT GOFILE
      connect() to HOST:PORT, read the server's first line ("peer=...
      reply=NAME"), wait (at most 30 s) for GOFILE to exist, then send a
      line and read it echoed ("echo ok" or "echo err=NAME").
Every line is flushed as it is printed.
"""
import errno
import os
import socket
import sys
import time


def say(line):
    print(line, flush=True)


def err_name(e):
    if isinstance(e, socket.timeout):
        return "timeout"
    return errno.errorcode.get(e.errno, str(e.errno))


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def peer(s):
    a = s.getpeername()
    return ("[%s]:%d" if ":" in a[0] else "%s:%d") % (a[0], a[1])


def udp(host, port, wait):
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.settimeout(5)
    s.connect((host, port))
    s.send(b"hello\n")
    say("peer=%s reply=%s" % (peer(s), s.recv(100).decode().strip()))
    s.settimeout(wait)
    try:
        s.recv(100)
        say("recv ok")
    except OSError as e:
        say("recv err=%s at=%.6f" % (err_name(e), time.time()))
    try:
        s.send(b"again\n")
        say("send ok")
    except OSError as e:
        say("send err=%s" % err_name(e))
    s.settimeout(5)
    try:
        s.connect((host, port))
        s.send(b"again\n")
        say("again reply=%s" % s.recv(100).decode().strip())
    except OSError as e:
        say("again err=%s" % err_name(e))


def tcp(host, port, gofile):
    s = socket.create_connection((host, port), timeout=5)
    f = s.makefile("rb")
    say("peer=%s reply=%s" % (peer(s), f.readline().decode().strip()))
    for _ in range(300):
        if os.path.exists(gofile):
            break
        time.sleep(0.1)
    try:
        s.sendall(b"ping\n")
        line = f.readline().decode().strip()
        say("echo ok" if line == "ping" else "echo err=got %r" % line)
    except OSError as e:
        say("echo err=%s" % err_name(e))


def main():
    mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "udp":
        udp(host, port, float(sys.argv[4]))
    else:
        tcp(host, port, sys.argv[4])


if __name__ == "__main__":
    main()
