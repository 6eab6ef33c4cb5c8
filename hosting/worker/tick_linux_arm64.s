#include "textflag.h"

// The ticker's shared words (tick_linux.go), as byte offsets.
#define SEQ 0
#define PARKED 8
#define HIGH 16
#define PERIOD 24
#define IDLEMAX 32
#define TICKS 40
#define SLEEP 48
#define ENTRIES 64

#define SYS_futex 98
#define SYS_clock_nanosleep 115
#define SYS_clone 220
#define CLOCK_MONOTONIC 1
#define FUTEX_WAIT_PRIVATE 128
#define EINTR 4

// func rawClone(flags, stack, region uintptr) int64
TEXT ·rawClone(SB),NOSPLIT|NOFRAME,$0-32
	MOVD	region+16(FP), R19	// kept by the child: syscalls preserve it
	MOVD	flags+0(FP), R0
	MOVD	stack+8(FP), R1
	MOVD	$0, R2	// parent_tid
	MOVD	$0, R3	// tls: the child never touches it
	MOVD	$0, R4	// child_tid
	MOVD	$SYS_clone, R8
	SVC
	CBZ	R0, child
	MOVD	R0, ret+24(FP)
	RET

// The new thread: no Go runtime, no stack use, only system calls and
// stores. R19 = the shared words, R20 = ticks in a row with no guest.
// Loads of words Go writes are load-acquire (LDAR), read-modify-writes
// are exclusive pairs with acquire and release (LDAXR/STLXR): a
// store-release followed by a load-acquire is not reordered, as the
// amd64 version's locked instructions are not.
child:
	MOVD	$0, R20
next:
	// Sleep one period (a relative sleep: after a stall the thread
	// sweeps once, it does not catch up on the ticks it missed).
	MOVD	$SYS_clock_nanosleep, R8
	MOVD	$CLOCK_MONOTONIC, R0
	MOVD	$0, R1		// relative
	ADD	$SLEEP, R19, R2
	MOVD	$0, R3
	SVC
	CMN	$EINTR, R0
	BEQ	next

	// The sweep: set the flag of every registered guest.
	ADD	$SEQ, R19, R1
begin:
	LDAXR	(R1), R2
	ADD	$1, R2
	STLXR	R2, (R1), R3	// odd: sweeping
	CBNZ	R3, begin
	ADD	$HIGH, R19, R1
	LDAR	(R1), R4
	ADD	$ENTRIES, R19, R5
	MOVD	$0, R6		// a guest was found
	MOVD	$1, R9
sweep:
	CBZ	R4, swept
	LDAR	(R5), R7
	CBZ	R7, skip
	MOVD	R9, (R7)
	MOVD	$1, R6
skip:
	ADD	$8, R5
	SUB	$1, R4
	B	sweep
swept:
	ADD	$SEQ, R19, R1
end:
	LDAXR	(R1), R2
	ADD	$1, R2
	STLXR	R2, (R1), R3	// even: done, the stores above are visible
	CBNZ	R3, end
	ADD	$TICKS, R19, R1
count:
	LDAXR	(R1), R2
	ADD	$1, R2
	STLXR	R2, (R1), R3
	CBNZ	R3, count
	CBZ	R6, idle
	MOVD	$0, R20
	B	next
idle:
	ADD	$1, R20
	MOVD	IDLEMAX(R19), R1
	CMP	R1, R20
	BLT	next

	// Park: mark it, then look at the table once more: a guest
	// registered before the mark is seen here, one registered after it
	// sees the mark and wakes the futex.
	ADD	$PARKED, R19, R1
	MOVW	$1, R2
mark:
	LDAXRW	(R1), R3
	STLXRW	R2, (R1), R3
	CBNZ	R3, mark
	ADD	$HIGH, R19, R1
	LDAR	(R1), R4
	ADD	$ENTRIES, R19, R5
recheck:
	CBZ	R4, wait
	LDAR	(R5), R7
	CBNZ	R7, wake
	ADD	$8, R5
	SUB	$1, R4
	B	recheck
wait:
	MOVD	$SYS_futex, R8
	ADD	$PARKED, R19, R0
	MOVD	$FUTEX_WAIT_PRIVATE, R1
	MOVD	$1, R2
	MOVD	$0, R3	// no timeout
	SVC
	// Woken (the waker cleared the mark), or the mark was already
	// cleared (EAGAIN), or interrupted: tick again in any case.
wake:
	ADD	$PARKED, R19, R1
	STLRW	ZR, (R1)
	MOVD	$0, R20
	B	next
