// Where a signup came from. The body's `source` is any short label and is stored as given
// (attribution is the customer's to name, and refusing a label would cost the signup);
// the metric only counts the labels below by name and every other one as `other`, so
// user_signups_total keeps a small, fixed set of series that dashboards can list.

/** The labels counted under their own name in user_signups_total{source}. */
export const KNOWN_SIGNUP_SOURCES = ['direct', 'organic', 'referral', 'paid', 'partner', 'api', 'invite'] as const;
export type KnownSignupSource = (typeof KNOWN_SIGNUP_SOURCES)[number];

/** A tenant signup without a `source`. */
export const DEFAULT_SIGNUP_SOURCE: KnownSignupSource = 'direct';
/** A user an admin created (a tenant's owner signs up with the body's source). */
export const INVITED_SOURCE: KnownSignupSource = 'invite';

/** What user_signups_total{source} says for a stored label: a known one (matched case-insensitively), else `other`. */
export function signupSourceLabel(source: string): KnownSignupSource | 'other' {
  const lower = source.toLowerCase();
  return KNOWN_SIGNUP_SOURCES.find((known) => known === lower) ?? 'other';
}
