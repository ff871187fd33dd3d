/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * The migration suite's traffic checker, run in the guest (linked
 * statically: the guest has busybox and nothing else).
 *
 * It sends ICMP echo requests on a packet socket, up to a window of them
 * in flight, each with a payload whose length and bytes derive from its
 * 32-bit sequence number, so a stale or misplaced buffer shows. Each reply
 * must be byte for byte the frame an echo responder makes of the request
 * (MACs and IP addresses swapped, type 0, ICMP checksum adjusted), and its
 * IP and ICMP checksums must verify. A request unanswered after the
 * timeout counts as lost. Counters go to stdout periodically:
 *
 *   PING t=<ms> sent=<n> rcvd=<n> lost=<n> bad=<n> dup=<n> late=<n>
 *        txerr=<n> out=<n> junk=<n>
 *
 * and the first corrupt replies are described on PING-BAD lines. Any other
 * frame received counts as junk (PING-JUNK lines): the guest has no
 * address and IPv6 is off, so only the peer's replies may come.
 *
 * usage: guest_ping <ifname> <peer mac> [window] [period ms] [timeout ms]
 */

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ETH_LEN		14
#define IP_LEN		20
#define ICMP_LEN	8
#define HDR_LEN		(ETH_LEN + IP_LEN + ICMP_LEN)
#define PAYLOAD_MIN	32
#define PAYLOAD_SPAN	1369	/* payloads of 32 to 1400 bytes */
#define FRAME_MAX	(HDR_LEN + PAYLOAD_MIN + PAYLOAD_SPAN)
#define NR_SLOTS	65536	/* one per 16-bit ICMP sequence number */
#define ICMP_IDENT	0x1fc5
#define MAX_BAD_SHOWN	8

enum slot_state { SLOT_FREE, SLOT_OUT, SLOT_DONE, SLOT_LOST };

struct slot {
	uint32_t seq;
	uint8_t state;
	uint64_t sent_ns;
};

struct pinger {
	int fd;
	int ifindex;
	uint8_t own[6];
	uint8_t peer[6];
	unsigned int window;
	uint64_t timeout_ns;
	uint32_t next_seq;	/* the next request's sequence number */
	uint32_t oldest;	/* no request older than this is in flight */
	uint64_t sent, rcvd, lost, bad, dup, late, txerr, junk;
	struct slot slots[NR_SLOTS];
};

static struct pinger P;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint16_t
csum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static size_t
payload_len(uint32_t seq)
{
	return PAYLOAD_MIN + (size_t)(seq * 389u) % PAYLOAD_SPAN;
}

/*
 * The request for @seq, or (@reply) the echo reply an ICMP responder
 * makes of it. Returns the frame length.
 */
static size_t
build(uint8_t *f, uint32_t seq, int reply)
{
	static const uint8_t guest_ip[4] = { 10, 0, 0, 2 };
	static const uint8_t peer_ip[4] = { 10, 0, 0, 1 };
	size_t plen = payload_len(seq), i;
	uint8_t *ip = f + ETH_LEN, *icmp = ip + IP_LEN, *pl = icmp + ICMP_LEN;

	memcpy(f, reply ? P.own : P.peer, 6);
	memcpy(f + 6, reply ? P.peer : P.own, 6);
	put16(f + 12, ETHERTYPE_IP);
	ip[0] = 0x45;
	ip[1] = 0;
	put16(ip + 2, IP_LEN + ICMP_LEN + plen);
	put16(ip + 4, seq & 0xffff);
	put16(ip + 6, 0x4000);	/* DF */
	ip[8] = 64;
	ip[9] = IPPROTO_ICMP;
	put16(ip + 10, 0);
	memcpy(ip + 12, reply ? peer_ip : guest_ip, 4);
	memcpy(ip + 16, reply ? guest_ip : peer_ip, 4);
	put16(ip + 10, csum(ip, IP_LEN));
	icmp[0] = reply ? 0 : 8;
	icmp[1] = 0;
	put16(icmp + 2, 0);
	put16(icmp + 4, ICMP_IDENT);
	put16(icmp + 6, seq & 0xffff);
	pl[0] = seq >> 24;
	pl[1] = seq >> 16;
	pl[2] = seq >> 8;
	pl[3] = seq;
	for (i = 4; i < plen; i++)
		pl[i] = (uint8_t)(seq * 131u + i * 7u + (i >> 8) * 13u);
	put16(icmp + 2, csum(icmp, ICMP_LEN + plen));
	return HDR_LEN + plen;
}

static void
report(uint64_t t0)
{
	printf("PING t=%llu sent=%llu rcvd=%llu lost=%llu bad=%llu dup=%llu "
	       "late=%llu txerr=%llu out=%llu junk=%llu\n",
	       (unsigned long long)((now_ns() - t0) / 1000000),
	       (unsigned long long)P.sent, (unsigned long long)P.rcvd,
	       (unsigned long long)P.lost, (unsigned long long)P.bad,
	       (unsigned long long)P.dup, (unsigned long long)P.late,
	       (unsigned long long)P.txerr,
	       (unsigned long long)(P.sent - P.rcvd - P.lost),
	       (unsigned long long)P.junk);
	fflush(stdout);
}

static int
send_one(void)
{
	static uint8_t f[FRAME_MAX];
	struct sockaddr_ll to;
	struct slot *s = &P.slots[P.next_seq % NR_SLOTS];
	size_t len = build(f, P.next_seq, 0);

	memset(&to, 0, sizeof(to));
	to.sll_family = AF_PACKET;
	to.sll_ifindex = P.ifindex;
	to.sll_halen = 6;
	memcpy(to.sll_addr, P.peer, 6);
	if (sendto(P.fd, f, len, MSG_DONTWAIT, (struct sockaddr *)&to,
		   sizeof(to)) != (ssize_t)len) {
		P.txerr++;
		return -1;
	}
	s->seq = P.next_seq++;
	s->state = SLOT_OUT;
	s->sent_ns = now_ns();
	P.sent++;
	return 0;
}

/* Compare a reply with the expected one; 0 when intact. */
static int
check_reply(const uint8_t *f, size_t len, uint32_t seq)
{
	static uint8_t want[FRAME_MAX];
	size_t wlen = build(want, seq, 1), i;

	if (len == wlen && memcmp(f, want, len) == 0 &&
	    csum(f + ETH_LEN, IP_LEN) == 0 &&
	    csum(f + ETH_LEN + IP_LEN, len - ETH_LEN - IP_LEN) == 0)
		return 0;
	P.bad++;
	if (P.bad <= MAX_BAD_SHOWN) {
		for (i = 0; i < len && i < wlen && f[i] == want[i]; i++)
			;
		printf("PING-BAD seq=%u len=%zu want_len=%zu first_diff=%zu "
		       "got=0x%02x want=0x%02x\n", seq, len, wlen, i,
		       i < len ? f[i] : 0, i < wlen ? want[i] : 0);
	}
	return -1;
}

static void
receive(void)
{
	static uint8_t f[FRAME_MAX + 64];
	struct sockaddr_ll from;
	socklen_t flen;
	ssize_t n;
	struct slot *s;
	uint16_t seq16;

	for (;;) {
		flen = sizeof(from);
		n = recvfrom(P.fd, f, sizeof(f), MSG_DONTWAIT | MSG_TRUNC,
			     (struct sockaddr *)&from, &flen);
		if (n < 0)
			return;
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue;
		/*
		 * Nothing but replies to us may come: anything else (a
		 * buffer the device filled and the migration did not carry
		 * shows up as an old frame, or zeros) is junk.
		 */
		if (n < HDR_LEN || f[12] != 0x08 || f[13] != 0x00 ||
		    f[ETH_LEN + 9] != IPPROTO_ICMP ||
		    f[ETH_LEN + IP_LEN] != 0 ||
		    f[ETH_LEN + IP_LEN + 4] != ICMP_IDENT >> 8 ||
		    f[ETH_LEN + IP_LEN + 5] != (ICMP_IDENT & 0xff)) {
			if (++P.junk <= MAX_BAD_SHOWN)
				printf("PING-JUNK len=%zd type=0x%02x%02x "
				       "bytes=%02x%02x%02x%02x%02x%02x\n", n,
				       f[12], f[13], f[0], f[1], f[2], f[3],
				       f[4], f[5]);
			continue;
		}
		seq16 = (uint16_t)(f[ETH_LEN + IP_LEN + 6] << 8 |
				   f[ETH_LEN + IP_LEN + 7]);
		s = &P.slots[seq16];
		switch (s->state) {
		case SLOT_OUT:
			if (check_reply(f, (size_t)n, s->seq) == 0)
				P.rcvd++;
			else
				P.lost++;	/* its only reply was bad */
			s->state = SLOT_DONE;
			break;
		case SLOT_LOST:
			P.late++;
			check_reply(f, (size_t)n, s->seq);
			s->state = SLOT_DONE;
			break;
		default:
			P.dup++;
			break;
		}
	}
}

/* Retire the requests unanswered for longer than the timeout. */
static void
expire(uint64_t now)
{
	struct slot *s;

	while (P.oldest != P.next_seq) {
		s = &P.slots[P.oldest % NR_SLOTS];
		if (s->state == SLOT_OUT) {
			if (now - s->sent_ns < P.timeout_ns)
				return;
			s->state = SLOT_LOST;
			P.lost++;
		}
		P.oldest++;
	}
}

static int
parse_mac(const char *s, uint8_t *mac)
{
	unsigned int b[6], i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5]) != 6)
		return -1;
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

static int
open_socket(const char *ifname)
{
	struct sockaddr_ll sll;
	struct ifreq ifr;

	P.fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	if (P.fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(P.fd, SIOCGIFINDEX, &ifr) < 0)
		return -1;
	P.ifindex = ifr.ifr_ifindex;
	if (ioctl(P.fd, SIOCGIFHWADDR, &ifr) < 0)
		return -1;
	memcpy(P.own, ifr.ifr_hwaddr.sa_data, 6);
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = P.ifindex;
	return bind(P.fd, (struct sockaddr *)&sll, sizeof(sll));
}

int
main(int argc, char **argv)
{
	uint64_t t0, now, next_report, period_ns;
	struct pollfd pfd;

	if (argc < 3 || parse_mac(argv[2], P.peer) < 0) {
		fprintf(stderr, "usage: %s <ifname> <peer mac> [window] "
			"[period ms] [timeout ms]\n", argv[0]);
		return 2;
	}
	P.window = argc > 3 ? (unsigned int)atoi(argv[3]) : 32;
	period_ns = (argc > 4 ? strtoull(argv[4], NULL, 0) : 250) * 1000000;
	P.timeout_ns = (argc > 5 ? strtoull(argv[5], NULL, 0) : 2000) *
		       1000000;
	if (P.window < 1 || P.window > 1024) {
		fprintf(stderr, "window: 1 to 1024\n");
		return 2;
	}
	if (open_socket(argv[1]) < 0) {
		printf("PING-ERROR %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	printf("PING-START if=%s mac=%02x:%02x:%02x:%02x:%02x:%02x window=%u\n",
	       argv[1], P.own[0], P.own[1], P.own[2], P.own[3], P.own[4],
	       P.own[5], P.window);
	t0 = now_ns();
	next_report = t0 + period_ns;
	pfd.fd = P.fd;
	pfd.events = POLLIN;
	for (;;) {
		while (P.sent - P.rcvd - P.lost < P.window)
			if (send_one() < 0)
				break;
		poll(&pfd, 1, 5);
		receive();
		now = now_ns();
		expire(now);
		if (now >= next_report) {
			report(t0);
			next_report = now + period_ns;
		}
	}
	return 0;
}
