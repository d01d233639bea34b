//! The synthetic helpdesk's cast: teams (with the tiers of `config/baton.toml`), agents, topics
//! with their home team, channels, transfer reasons, and the base rates the generator draws from.
//!
//! Everything is a `Copy` enum or a `&'static str`, so the generator never allocates a name.

use std::fmt;

/// A team (queue) of the synthetic helpdesk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Team {
    /// The intake queue: reaching the first owner from it is not a handoff.
    Triage,
    /// Where the AI agent "Fin" sits.
    AiAgent,
    GeneralSupport,
    Billing,
    Technical,
    AccountSecurity,
}

impl Team {
    /// Every team, intake and AI included.
    pub const ALL: [Team; 6] = [
        Team::Triage,
        Team::AiAgent,
        Team::GeneralSupport,
        Team::Billing,
        Team::Technical,
        Team::AccountSecurity,
    ];
    /// The teams staffed by people (the home teams of topics).
    pub const HUMAN: [Team; 4] = [
        Team::GeneralSupport,
        Team::Billing,
        Team::Technical,
        Team::AccountSecurity,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Team::Triage => "Triage",
            Team::AiAgent => "AI Agent",
            Team::GeneralSupport => "General Support",
            Team::Billing => "Billing",
            Team::Technical => "Technical",
            Team::AccountSecurity => "Account Security",
        }
    }

    /// The tier configured for the team in `config/baton.toml` (none for the intake queue).
    pub fn tier(self) -> Option<u32> {
        match self {
            Team::Triage => None,
            Team::AiAgent => Some(0),
            Team::GeneralSupport | Team::Billing => Some(1),
            Team::Technical => Some(2),
            Team::AccountSecurity => Some(3),
        }
    }

    /// Parses a team name loosely: case, `_` and `-` do not matter (`account_security`).
    pub fn parse(s: &str) -> Option<Team> {
        let want = loose(s);
        Team::ALL.into_iter().find(|t| loose(t.name()) == want)
    }

    /// Indices into [`AGENTS`] of the team's people (Fin for the AI team, none for Triage).
    pub(crate) fn agents(self) -> &'static [u8] {
        match self {
            Team::Triage => &[],
            Team::AiAgent => &[FIN],
            Team::GeneralSupport => &[1, 2, 3, 4, 5, 6],
            Team::Billing => &[7, 8, 9, 10],
            Team::Technical => &[11, 12, 13, 14, 15],
            Team::AccountSecurity => &[16, 17, 18],
        }
    }

    /// Base chance that an owner of this team escalates to a higher tier after working a
    /// conversation, and where to: (team, weight).
    pub(crate) fn escalation(self) -> (f64, &'static [(Team, f64)]) {
        match self {
            Team::GeneralSupport => (
                0.07,
                &[(Team::Technical, 0.7), (Team::AccountSecurity, 0.3)],
            ),
            Team::Billing => (
                0.06,
                &[(Team::Technical, 0.5), (Team::AccountSecurity, 0.5)],
            ),
            Team::Technical => (0.05, &[(Team::AccountSecurity, 1.0)]),
            _ => (0.0, &[]),
        }
    }

    /// Another team at the same or a lower tier that a stuck owner passes work to.
    pub(crate) fn pass_sideways(self) -> Team {
        match self {
            Team::GeneralSupport => Team::Billing,
            Team::Billing | Team::Technical | Team::AccountSecurity => Team::GeneralSupport,
            other => other,
        }
    }
}

impl fmt::Display for Team {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One member of staff (or the AI agent) with a stable name.
pub(crate) struct Agent {
    pub name: &'static str,
    /// Chance, per conversation worked, of lacking the skill and passing it on.
    pub skill_gap: f64,
}

/// Index of the AI agent in [`AGENTS`].
pub(crate) const FIN: u8 = 0;

/// Everyone who can own a conversation; teams list their members by index.
pub(crate) const AGENTS: [Agent; 19] = [
    Agent {
        name: "Fin",
        skill_gap: 0.0,
    },
    // General Support
    Agent {
        name: "Alice Morgan",
        skill_gap: 0.05,
    },
    Agent {
        name: "Ben Carter",
        skill_gap: 0.06,
    },
    Agent {
        name: "Chloe Davies",
        skill_gap: 0.04,
    },
    Agent {
        name: "Daniel Evans",
        skill_gap: 0.07,
    },
    Agent {
        name: "Emma Foster",
        skill_gap: 0.05,
    },
    Agent {
        name: "Felix Green",
        skill_gap: 0.18,
    }, // new hire
    // Billing
    Agent {
        name: "Grace Hall",
        skill_gap: 0.04,
    },
    Agent {
        name: "Henry Irwin",
        skill_gap: 0.06,
    },
    Agent {
        name: "Isla Jones",
        skill_gap: 0.05,
    },
    Agent {
        name: "Jack King",
        skill_gap: 0.16,
    }, // new hire
    // Technical
    Agent {
        name: "Kara Lewis",
        skill_gap: 0.05,
    },
    Agent {
        name: "Liam Moore",
        skill_gap: 0.06,
    },
    Agent {
        name: "Maya Nash",
        skill_gap: 0.04,
    },
    Agent {
        name: "Noah Owen",
        skill_gap: 0.08,
    },
    Agent {
        name: "Olivia Price",
        skill_gap: 0.05,
    },
    // Account Security
    Agent {
        name: "Priya Quinn",
        skill_gap: 0.03,
    },
    Agent {
        name: "Ravi Shah",
        skill_gap: 0.04,
    },
    Agent {
        name: "Sofia Turner",
        skill_gap: 0.05,
    },
];

/// What a conversation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    General,
    Shipping,
    Billing,
    Refund,
    Login,
    Bug,
    Integration,
    PasswordReset,
    AccountClosure,
}

/// Base rates of one topic.
pub(crate) struct TopicRates {
    /// Share of conversations about it.
    pub weight: f64,
    /// Chance that the first routing decision sends it to a wrong team.
    pub misroute: f64,
    /// Teams it is mistaken for, with weights.
    pub wrong_teams: &'static [(Team, f64)],
    /// Chance that the AI agent resolves it alone (the rest it hands over).
    pub ai_resolves: f64,
    /// Mean opening sentiment of the customer.
    pub mood: f64,
}

impl Topic {
    pub const ALL: [Topic; 9] = [
        Topic::General,
        Topic::Shipping,
        Topic::Billing,
        Topic::Refund,
        Topic::Login,
        Topic::Bug,
        Topic::Integration,
        Topic::PasswordReset,
        Topic::AccountClosure,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Topic::General => "general",
            Topic::Shipping => "shipping",
            Topic::Billing => "billing",
            Topic::Refund => "refund",
            Topic::Login => "login",
            Topic::Bug => "bug",
            Topic::Integration => "integration",
            Topic::PasswordReset => "password_reset",
            Topic::AccountClosure => "account_closure",
        }
    }

    /// The team that owns the topic.
    pub fn home(self) -> Team {
        match self {
            Topic::General | Topic::Shipping => Team::GeneralSupport,
            Topic::Billing | Topic::Refund => Team::Billing,
            Topic::Login | Topic::Bug | Topic::Integration => Team::Technical,
            Topic::PasswordReset | Topic::AccountClosure => Team::AccountSecurity,
        }
    }

    pub fn parse(s: &str) -> Option<Topic> {
        let want = loose(s);
        Topic::ALL.into_iter().find(|t| loose(t.name()) == want)
    }

    pub(crate) fn rates(self) -> TopicRates {
        use Team::*;
        let r = |weight, misroute, wrong_teams, ai_resolves, mood| TopicRates {
            weight,
            misroute,
            wrong_teams,
            ai_resolves,
            mood,
        };
        // Wrong teams are plausible confusions. For billing both sit at the home tier or above,
        // so correcting a billing misroute is never a tier-up (always the routing cause).
        match self {
            Topic::General => r(0.19, 0.05, &[(Billing, 1.0)], 0.75, 0.15),
            Topic::Shipping => r(0.12, 0.07, &[(Billing, 1.0)], 0.75, 0.05),
            Topic::Billing => r(
                0.17,
                0.12,
                &[(GeneralSupport, 0.7), (Technical, 0.3)],
                0.55,
                0.0,
            ),
            Topic::Refund => r(0.09, 0.14, &[(GeneralSupport, 1.0)], 0.40, -0.15),
            Topic::Login => r(
                0.11,
                0.10,
                &[(GeneralSupport, 0.6), (AccountSecurity, 0.4)],
                0.60,
                -0.05,
            ),
            Topic::Bug => r(0.09, 0.08, &[(GeneralSupport, 1.0)], 0.25, -0.15),
            Topic::Integration => r(
                0.06,
                0.15,
                &[(GeneralSupport, 0.5), (Billing, 0.5)],
                0.25,
                0.0,
            ),
            // Policy: the AI must not hand password resets over ...
            Topic::PasswordReset => r(0.11, 0.06, &[(Technical, 1.0)], 0.93, 0.0),
            // ... and must hand account closures over; it breaks policy now and then.
            Topic::AccountClosure => r(
                0.06,
                0.10,
                &[(Billing, 0.6), (GeneralSupport, 0.4)],
                0.04,
                -0.3,
            ),
        }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How the customer talks to the helpdesk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Chat,
    Email,
    Phone,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Chat, Channel::Email, Channel::Phone];

    pub fn name(self) -> &'static str {
        match self {
            Channel::Chat => "chat",
            Channel::Email => "email",
            Channel::Phone => "phone",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        let want = loose(s);
        Channel::ALL.into_iter().find(|c| c.name() == want)
    }

    /// Base chance, per owner who worked it, of moving the conversation to phone (callback).
    pub(crate) fn move_to_phone(self) -> f64 {
        match self {
            Channel::Chat => 0.06,
            Channel::Email => 0.03,
            Channel::Phone => 0.0,
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Transfer reasons carried by some `assigned` rows (most transfers carry none, as in real
/// exports). `shift_end` is not mapped in the default config on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    WrongQueue,
    Misrouted,
    NeedsSpecialist,
    Escalate,
    Callback,
    ShiftEnd,
}

impl Reason {
    pub fn name(self) -> &'static str {
        match self {
            Reason::WrongQueue => "wrong_queue",
            Reason::Misrouted => "misrouted",
            Reason::NeedsSpecialist => "needs_specialist",
            Reason::Escalate => "escalate",
            Reason::Callback => "callback",
            Reason::ShiftEnd => "shift_end",
        }
    }
}

/// Lower case, with `_` and `-` read as spaces, for forgiving name matching.
fn loose(s: &str) -> String {
    s.trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c == '_' || c == '-' { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_weights_sum_to_one() {
        let total: f64 = Topic::ALL.iter().map(|t| t.rates().weight).sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
    }

    #[test]
    fn names_parse_back_loosely() {
        for t in Team::ALL {
            assert_eq!(Team::parse(t.name()), Some(t));
        }
        assert_eq!(Team::parse("account_security"), Some(Team::AccountSecurity));
        for t in Topic::ALL {
            assert_eq!(Topic::parse(t.name()), Some(t));
        }
        assert_eq!(Topic::parse("Password-Reset"), Some(Topic::PasswordReset));
        assert_eq!(Channel::parse("Chat"), Some(Channel::Chat));
        assert_eq!(Channel::parse("fax"), None);
    }

    #[test]
    fn billing_misroutes_never_go_to_a_lower_tier() {
        // A wrong team below the home tier would make the correction a tier-up (escalation).
        let home = Topic::Billing.home().tier().unwrap();
        for (t, _) in Topic::Billing.rates().wrong_teams {
            assert!(t.tier().unwrap() >= home, "{t}");
        }
    }

    #[test]
    fn every_team_has_its_agents() {
        for t in Team::HUMAN {
            assert!(t.agents().len() >= 3, "{t}");
        }
        assert_eq!(AGENTS[FIN as usize].name, "Fin");
    }
}
