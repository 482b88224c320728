# Prints the completions zsh offers for a command line, one <match>…</match> per candidate: a real interactive zsh
# in a pseudo-terminal (zsh/zpty) with compinit and the script loaded; compadd is wrapped to print each match it
# adds. Usage: zsh -f zsh-complete.zsh SCRIPT LINE (the LINE as typed, completed where it ends).
zmodload zsh/zpty || exit 3
zpty z zsh -f -i
zpty -w z "PROMPT=''; autoload -Uz compinit; compinit -u -D; source ${(q)1}"
zpty -w z 'compadd () {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi
  typeset -a __hits; builtin compadd -A __hits "$@"; local r=$?
  (( $#__hits )) && print -r -- "<match>${(pj:</match>\n<match>:)__hits}</match>"
  builtin compadd "$@"; return r
}'
zpty -w z "zstyle ':completion:*' list-prompt ''; zstyle ':completion:*' select-prompt ''; bindkey '^I' complete-word"
# Quoted apart, so the echo of what was typed (by the terminal itself while zsh still starts) cannot be taken for
# the answer: only the command's output reads <ready>, and it comes after every earlier line was echoed.
zpty -w z "print '<rea''dy>'"
zpty -r -m z line '*<ready>*' || exit 4
zpty -n -w z "$2"$'\t'
zpty -w z $'\C-u'"print '<do''ne>'"
typeset out=''
while zpty -r z chunk; do
  out+=$chunk
  [[ $out == *'<done>'* ]] && break
done
print -r -- ${(F)${(M)${(f)out}:#*<match>*}}
zpty -d z
