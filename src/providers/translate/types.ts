/** Token counts a translator read from the upstream's answer; null where it said nothing. */
export interface TranslatedUsage {
  promptTokens: number | null
  completionTokens: number | null
}

/**
 * Turns the parsed events of one upstream stream into the client's events, incrementally. Each
 * call returns the text to send now ('' for nothing).
 */
export interface StreamTranslator {
  push(event: { readonly event: string; readonly data: string }): string
  /** The upstream body ended. What still has to go out; the stream is complete when `completed` is true. */
  end(): string
  /** The upstream's own end marker arrived (message_stop, [DONE]) or its error event. */
  readonly completed: boolean
  /** The upstream ended its stream with an error event (already translated into the client's). */
  readonly failed: boolean
  readonly usage: TranslatedUsage
}

/** Cleans upstream-provided text before a client sees it (secrets, credential-shaped tokens). */
export type Scrub = (text: string) => string
