# bench/lockwait.gp - a histogram of a writer's lock waits with readers flat out.
#
#     gnuplot -c bench/lockwait.gp DATA PNG READERS TITLE1 TITLE2 TITLE3
#
# DATA is build/bench/lockwait's output: comment lines, then one line per
# wait bucket, "LABEL LOW_US COUNT_rwfs COUNT_glibc-writer COUNT_glibc-default";
# TITLE1 to TITLE3 name those three locks in the key (bench/run.sh adds each
# one's number of writes and longest wait).
# Counts on a log scale, so that the rare long waits (the tail that matters
# to a writer) stay visible next to the thousands of short ones.

data = ARG1
set terminal pngcairo size 1000,540 font ",10" noenhanced
set output ARG2
set title sprintf("a writer's wait for the lock, once a millisecond, while %s readers lock and unlock flat out", ARG3)
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set logscale y
set yrange [0.8:*]
set xlabel "wait (bucket from this bound up to the next)"
set ylabel "writer's lock acquisitions"
set xtics rotate by -45 nomirror
set grid ytics
set key outside below vertical
set bmargin 9
plot data using 3:xtic(1) title ARG4, '' using 4 title ARG5, '' using 5 title ARG6
