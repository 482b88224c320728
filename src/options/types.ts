// The types the option table implies: the flags each command gets from commander, their parsed values, the
// RunOptions fields the table fills and those that travel to senders. Nothing here is written by hand per option.
import type { RunOptions } from '../engine/options.js';
import type { CommandName, OPTIONS, Use } from './table.js';

type Table = typeof OPTIONS;
export type OptionName = keyof Table;

type Get<T, K extends PropertyKey> = T extends { readonly [P in K]: infer V } ? V : undefined;

/** The options command C takes. */
export type NamesOf<C extends CommandName> = {
  [N in OptionName]: C extends keyof Table[N]['commands'] ? N : never;
}[OptionName];

/** A setting of option N as command C has it: the command's own, else the entry's. */
type Setting<N extends OptionName, C extends CommandName, K extends keyof Use> =
  Get<Table[N]['commands'], C> extends { readonly [P in K]: infer V } ? V : Get<Table[N], K>;

type IsSwitch<N extends OptionName> = Table[N]['flags'] extends `${string}<${string}>` ? false : true;

/** What commander hands over for option N. */
type Text<N extends OptionName> = Table[N] extends { repeatable: true }
  ? string[]
  : IsSwitch<N> extends true
    ? boolean
    : string;

/** Commander always sets it: required, a default, or a `--no-` switch. */
type AlwaysSet<N extends OptionName, C extends CommandName> =
  Setting<N, C, 'required'> extends true
    ? true
    : Setting<N, C, 'default'> extends string | readonly string[]
      ? true
      : Table[N]['flags'] extends `--no-${string}`
        ? true
        : false;

/** Parsed, it is always there: set by commander, or a switch with a value when absent. */
type AlwaysValued<N extends OptionName, C extends CommandName> =
  AlwaysSet<N, C> extends true ? true : Get<Table[N], 'default'> extends boolean ? true : false;

type Flat<T> = { [K in keyof T]: T[K] };

/** Options always there as required keys, the others optional. */
type Shape<C extends CommandName, Always, V extends Record<OptionName, unknown>> = Flat<
  { [N in NamesOf<C> as Always extends Record<N, true> ? N : never]: V[N] } & {
    [N in NamesOf<C> as Always extends Record<N, true> ? never : N]?: V[N];
  }
>;

type TextOf = { [N in OptionName]: Text<N> };
type ParsedOf = { [N in OptionName]: Parsed<N> };

/** The value of option N once parsed. */
export type Parsed<N extends OptionName> = Table[N] extends { parse: (text: never, flag: never) => infer R }
  ? R
  : Text<N>;

/** Command C's options as commander hands them over (text as typed). */
export type FlagsOf<C extends CommandName> = Shape<C, { [N in NamesOf<C>]: AlwaysSet<N, C> }, TextOf>;

/** Command C's options parsed. */
export type ValuesOf<C extends CommandName> = Shape<C, { [N in NamesOf<C>]: AlwaysValued<N, C> }, ParsedOf>;

type RunOptionOf<N extends OptionName> = Table[N] extends { runOption: infer K extends keyof RunOptions } ? K : never;

/** The RunOptions fields the table fills. */
export type TableRunOption = { [N in OptionName]: RunOptionOf<N> }[OptionName];

/** The RunOptions fields that travel to sender threads and workers. */
export type SenderKey = { [N in OptionName]: Table[N] extends { sender: true } ? RunOptionOf<N> : never }[OptionName];

/** The library's defaults the table gives: the parsed default of each entry that has one and a RunOptions field. */
export type TableDefaults = {
  [N in OptionName as Table[N] extends { default: unknown } ? RunOptionOf<N> : never]: Parsed<N>;
};

/** Entries whose parsed value does not fit their RunOptions field: there must be none. */
type Misfits = {
  [N in OptionName]: [RunOptionOf<N>] extends [never]
    ? never
    : Parsed<N> extends Exclude<RunOptions[RunOptionOf<N>], undefined>
      ? never
      : N;
}[OptionName];
type None<T extends never> = T;
/** Compiles only while every entry's parsed value fits its RunOptions field (else it names the entry). */
export type ValuesFitRunOptions = None<Misfits>;
