# bench/throughput.gp - register throughput against client threads.
#
#     gnuplot -c bench/throughput.gp DATA PNG
#
# DATA, written by bench/run.sh's plots part, has one line per thread count:
#     threads rwfs_pread minfuse_pread tmpfs_pread rwfs_pwrite minfuse_pwrite tmpfs_pwrite
# in ops/s.  Two panels, reads and writes, on a log scale: tmpfs runs one
# to two orders of magnitude above the FUSE filesystems.

data = ARG1
set terminal pngcairo size 1100,480 font ",10" noenhanced
set output ARG2
set multiplot layout 1,2 title "register throughput against client threads (median of short runs)"
set logscale x 2
set logscale y
set xtics (1, 2, 4, 8)
set xrange [0.8:10]
set format y "%.0s%c"
set xlabel "client threads"
set ylabel "operations/s"
set grid ytics mytics xtics
set key outside below horizontal
set bmargin 6

set title "pread(64 bytes, offset 0) of a register"
plot data using 1:2 with linespoints lw 2 pt 7 title "rwfs mnt/A", \
     data using 1:3 with linespoints lw 2 pt 5 title "bench/minfuse (bare FUSE)", \
     data using 1:4 with linespoints lw 2 pt 9 title "tmpfs"

set title 'pwrite("1\n", offset 0) of a register'
plot data using 1:5 with linespoints lw 2 pt 7 title "rwfs mnt/A", \
     data using 1:6 with linespoints lw 2 pt 5 title "bench/minfuse (bare FUSE)", \
     data using 1:7 with linespoints lw 2 pt 9 title "tmpfs"

unset multiplot
