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

#define SYS_clone 56
#define SYS_futex 202
#define SYS_clock_nanosleep 230
#define CLOCK_MONOTONIC 1
#define FUTEX_WAIT_PRIVATE 128
#define EINTR 4

// func rawClone(flags, stack, region uintptr) int64
TEXT ·rawClone(SB),NOSPLIT|NOFRAME,$0-32
	MOVQ	region+16(FP), R12	// kept by the child: syscalls preserve it
	MOVQ	flags+0(FP), DI
	MOVQ	stack+8(FP), SI
	XORQ	DX, DX		// parent_tid
	XORQ	R10, R10	// child_tid
	XORQ	R8, R8		// tls: the child never touches it
	MOVQ	$SYS_clone, AX
	SYSCALL
	CMPQ	AX, $0
	JEQ	child
	MOVQ	AX, ret+24(FP)
	RET

// The new thread: no Go runtime, no stack use, only system calls and
// stores. R12 = the shared words, R13 = ticks in a row with no guest.
child:
	XORQ	R13, R13
next:
	// Sleep one period (a relative sleep: after a stall the thread
	// sweeps once, it does not catch up on the ticks it missed).
	MOVQ	$SYS_clock_nanosleep, AX
	MOVQ	$CLOCK_MONOTONIC, DI
	XORQ	SI, SI		// relative
	LEAQ	SLEEP(R12), DX
	XORQ	R10, R10
	SYSCALL
	CMPQ	AX, $-EINTR
	JEQ	next

	// The sweep: set the flag of every registered guest.
	MOVQ	$1, AX
	LOCK
	XADDQ	AX, SEQ(R12)	// odd: sweeping
	MOVQ	HIGH(R12), CX
	LEAQ	ENTRIES(R12), SI
	XORQ	BX, BX		// a guest was found
sweep:
	TESTQ	CX, CX
	JEQ	swept
	MOVQ	(SI), DX
	TESTQ	DX, DX
	JEQ	skip
	MOVQ	$1, (DX)
	MOVQ	$1, BX
skip:
	ADDQ	$8, SI
	DECQ	CX
	JMP	sweep
swept:
	MOVQ	$1, AX
	LOCK
	XADDQ	AX, SEQ(R12)	// even: done, the stores above are visible
	MOVQ	$1, AX
	LOCK
	XADDQ	AX, TICKS(R12)
	TESTQ	BX, BX
	JEQ	idle
	XORQ	R13, R13
	JMP	next
idle:
	INCQ	R13
	CMPQ	R13, IDLEMAX(R12)
	JLT	next

	// Park: mark it (a full barrier), then look at the table once more:
	// a guest registered before the mark is seen here, one registered
	// after it sees the mark and wakes the futex.
	MOVL	$1, AX
	XCHGL	AX, PARKED(R12)
	MOVQ	HIGH(R12), CX
	LEAQ	ENTRIES(R12), SI
recheck:
	TESTQ	CX, CX
	JEQ	wait
	MOVQ	(SI), DX
	TESTQ	DX, DX
	JNE	wake
	ADDQ	$8, SI
	DECQ	CX
	JMP	recheck
wait:
	MOVQ	$SYS_futex, AX
	LEAQ	PARKED(R12), DI
	MOVQ	$FUTEX_WAIT_PRIVATE, SI
	MOVQ	$1, DX
	XORQ	R10, R10	// no timeout
	SYSCALL
	// Woken (the waker cleared the mark), or the mark was already
	// cleared (EAGAIN), or interrupted: tick again in any case.
wake:
	XORL	AX, AX
	XCHGL	AX, PARKED(R12)
	XORQ	R13, R13
	JMP	next
