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
zpty -w z "print '<ready>'"
zpty -r -m z line '*<ready>*' || exit 4
zpty -n -w z "$2"$'\t'
zpty -w z $'\C-u'"print '<done>'"
typeset out=''
while zpty -r z chunk; do
  out+=$chunk
  [[ $out == *'<done>'*'<done>'* || $out == *$'\n<done>'* ]] && break
done
print -r -- ${(F)${(M)${(f)out}:#*<match>*}}
zpty -d z
