# attack: reach the outside world: DNS, TCP to public addresses, UDP, a raw socket
# stopped-by: bwrap
# expect: add_one=passed
# seconds: 40
import socket

for host, port in (("1.1.1.1", 443), ("8.8.8.8", 53), ("93.184.216.34", 80)):
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        print("ATTACK-SUCCEEDED connected to", host)
    except OSError:
        pass
try:
    socket.getaddrinfo("example.com", 80)
    print("ATTACK-SUCCEEDED resolved a name")
except OSError:
    pass
try:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.settimeout(0.5)
    udp.sendto(b"\x00", ("8.8.8.8", 53))
    print("ATTACK-SUCCEEDED sent a datagram")
except OSError:
    pass
try:
    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    print("ATTACK-SUCCEEDED opened a raw socket")
except OSError:
    pass
