package datagen

// The vocabulary titles and slugs are built from. Shows and topics are
// invented but shaped like a Gulf media platform's catalogue: Arabic show
// names with Arabic, English or mixed episode titles, ASCII slugs.

// Content types, as the contract's CHECK constraint spells them.
const (
	typePodcast    = "podcast"
	typeNewsletter = "newsletter"
	typeVideo      = "video"
)

type show struct {
	ar, en, slug string
}

var shows = map[string][]show{
	typePodcast: {
		{"فنجان", "Fnjan", "fnjan"},
		{"سقراط", "Socrates", "socrates"},
		{"أبجورة", "Abajora", "abajora"},
		{"مربّع", "Murabba", "murabba"},
		{"سوالف بزنس", "Business Talk", "swalif-business"},
		{"الشاهد", "The Witness", "alshahed"},
	},
	typeNewsletter: {
		{"نشرة أها!", "Aha! Newsletter", "aha"},
		{"الصفحة الأخيرة", "The Last Page", "last-page"},
		{"نشرة ثمانية الأسبوعية", "Thmanyah Weekly", "weekly"},
	},
	typeVideo: {
		{"وثائقيات ثمانية", "Thmanyah Docs", "docs"},
		{"تقنية في دقائق", "Tech in Minutes", "tech-minutes"},
		{"الملعب", "The Pitch", "the-pitch"},
		{"مطبخ الجدة", "Grandma's Kitchen", "grandmas-kitchen"},
	},
}

type topic struct {
	ar, en, slug string
}

var topics = []topic{
	{"رحلة الخط العربي من الكوفي إلى الرقعة", "The journey of Arabic calligraphy", "arabic-calligraphy"},
	{"مستقبل الذكاء الاصطناعي في العالم العربي", "The future of AI in the Arab world", "ai-arab-world"},
	{"كيف تبني عادة القراءة", "How to build a reading habit", "reading-habit"},
	{"قصة القهوة السعودية", "The story of Saudi coffee", "saudi-coffee"},
	{"الاقتصاد بعد النفط", "The economy after oil", "economy-after-oil"},
	{"أسرار النوم العميق", "The secrets of deep sleep", "deep-sleep"},
	{"ريادة الأعمال من الصفر", "Entrepreneurship from scratch", "startups-from-scratch"},
	{"تاريخ كرة القدم في الخليج", "A history of Gulf football", "gulf-football"},
	{"الصحة النفسية في بيئة العمل", "Mental health at work", "mental-health-at-work"},
	{"العمارة النجدية", "Najdi architecture", "najdi-architecture"},
	{"السينما السعودية الجديدة", "New Saudi cinema", "saudi-cinema"},
	{"الاستثمار للمبتدئين", "Investing for beginners", "investing-for-beginners"},
	{"رحلة إلى العلا", "A trip to AlUla", "alula"},
	{"الشعر النبطي", "Nabati poetry", "nabati-poetry"},
	{"صناعة الألعاب الإلكترونية", "Inside the video game industry", "video-games"},
	{"التغير المناخي والصحراء", "Climate change and the desert", "climate-and-desert"},
	{"لماذا نتعلم اللغات؟", "Why do we learn languages?", "learning-languages"},
	{"الأمن السيبراني في حياتنا", "Cybersecurity in everyday life", "cybersecurity"},
	{"فن التفاوض", "The art of negotiation", "negotiation"},
	{"الطب في العصر الذهبي", "Medicine in the golden age", "golden-age-medicine"},
	{"حياة الرحالة العرب", "The lives of Arab travellers", "arab-travellers"},
	{"الطاقة المتجددة", "Renewable energy & the grid", "renewable-energy"},
	{"الإنتاجية بدون احتراق", "Productivity without burnout", "productivity-without-burnout"},
	{"اقتصاد صنّاع المحتوى", "The creator economy", "creator-economy"},
	{"مقابلة مع رائد فضاء", "An interview with an astronaut", "astronaut-interview"},
	{"علم الأعصاب والذاكرة", "Neuroscience and memory", "neuroscience-and-memory"},
	{"قصة الإبل", "The story of camels", "camels"},
	{"الموسيقى العربية الحديثة", "Modern Arabic music", "modern-arabic-music"},
	{"الأسواق الشعبية", "Traditional souqs", "souqs"},
	{"كيف تعمل البنوك المركزية", "How central banks work", "central-banks"},
}

// Devices and the apps that run on them.
var devices = []string{"ios", "android", "web", "tv"}

var appVersions = map[string][]string{
	"ios":     {"5.12.0", "5.12.1", "5.11.3", "5.10.0"},
	"android": {"5.12.0", "5.11.4", "5.11.2", "5.9.8"},
	"web":     {"web-2025.06.2", "web-2025.06.1", "web-2025.05.4"},
	"tv":      {"tv-3.4.1", "tv-3.4.0", "tv-3.2.7"},
}
