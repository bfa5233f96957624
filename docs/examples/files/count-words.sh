# Runs inside the job: for each text under /inputs/texts, its word count in /outputs/counts/NAME.words;
# then /outputs/report.csv (one line per text, most words first) and /outputs/top-words.txt.
set -eu
mkdir -p "$JOB_OUTPUTS/counts"
for text in "$JOB_INPUTS"/texts/*.txt; do
    name=$(basename "$text" .txt)
    words=$(wc -w < "$text" | tr -d ' ')
    lines=$(wc -l < "$text" | tr -d ' ')
    echo "$words" > "$JOB_OUTPUTS/counts/$name.words"
    echo "$name,$lines,$words"
done | sort -t, -k3 -rn > /tmp/report
{ echo "text,lines,words"; cat /tmp/report; } > "$JOB_OUTPUTS/report.csv"
cat "$JOB_INPUTS"/texts/*.txt | tr -cs 'A-Za-z' '\n' | tr 'A-Z' 'a-z' | grep -E '.{4,}' \
    | sort | uniq -c | sort -rn | head -n 5 > "$JOB_OUTPUTS/top-words.txt"
echo "counted $(ls "$JOB_INPUTS"/texts | wc -l | tr -d ' ') texts"
