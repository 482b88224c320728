/** The URL `text` names, or null when it is not an absolute URL. */
export function tryUrl(text: string): URL | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}
