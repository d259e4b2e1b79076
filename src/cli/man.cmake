# Writes the man page salescycle(1) from the tool's own --help, so that the
# two never disagree: cmake -DSC_CLI=... -DSC_OUT=... -DSC_VERSION=... -P man.cmake
execute_process(COMMAND ${SC_CLI} --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${SC_CLI} --help failed")
endif()
# troff: a backslash is \e, and a line starting with . or ' would be a request.
string(REPLACE "\\" "\\e" help "${help}")
string(REGEX REPLACE "\n([.'])" "\n\\\\&\\1" help "${help}")
file(WRITE ${SC_OUT}
".TH SALESCYCLE 1 \"\" \"salescycle ${SC_VERSION}\" \"User Commands\"
.SH NAME
salescycle \\- sales cycles as state machines: validate, draw, simulate, replay, report the funnel
.SH SYNOPSIS
.B salescycle
.I COMMAND
[\\fIARGS\\fR] [\\fIOPTIONS\\fR]
.br
.B salescycle
.I COMMAND
.B \\-\\-help
.br
.B salescycle \\-\\-version
.SH DESCRIPTION
The text below is \\fBsalescycle \\-\\-help\\fR.
.PP
.nf
${help}.fi
.SH SEE ALSO
The README and CHANGELOG in /usr/share/doc/salescycle (or the install prefix's share/doc/salescycle).
")
