#include "onstack.h"

#include <stdint.h>

#if defined(__x86_64__)
/* rdi = fn, rsi = arg, rdx = top. The frame is a classic rbp frame: the
 * CFA is rbp + 16 for the rest of the function, so an unwinder inside fn
 * (whose own unwind info restores rbp, callee-saved) computes this frame
 * from rbp and finds the return address on the caller's stack. Plain
 * asm, no makecontext(3): swapcontext saves the signal mask with a system
 * call per switch, and its frames end the backtrace at __start_context. */
__asm__(".text\n"
	".globl bw_on_stack_switch\n"
	".hidden bw_on_stack_switch\n"
	".type bw_on_stack_switch, @function\n"
	"bw_on_stack_switch:\n"
	".cfi_startproc\n"
	"	pushq %rbp\n"
	".cfi_def_cfa_offset 16\n"
	".cfi_offset %rbp, -16\n"
	"	movq %rsp, %rbp\n"
	".cfi_def_cfa_register %rbp\n"
	"	movq %rdx, %rsp\n"
	"	movq %rdi, %rax\n"
	"	movq %rsi, %rdi\n"
	"	call *%rax\n"
	"	movq %rbp, %rsp\n"
	"	popq %rbp\n"
	".cfi_def_cfa %rsp, 8\n"
	"	ret\n"
	".cfi_endproc\n"
	".size bw_on_stack_switch, .-bw_on_stack_switch\n");

int bw_on_stack_switch(int (*fn)(void *), void *arg, void *top);

int bw_on_stack(int (*fn)(void *), void *arg, void *top)
{
	/* The psABI wants rsp 16-byte aligned before the call pushes the
	 * return address. */
	char *aligned = (char *)top - ((uintptr_t)top & 15);
	return bw_on_stack_switch(fn, arg, aligned);
}
#else
int bw_on_stack(int (*fn)(void *), void *arg, void *top)
{
	(void)top;
	return fn(arg);
}
#endif
