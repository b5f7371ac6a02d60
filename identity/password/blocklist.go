package password

import "strings"

// blocked holds the words users build their passwords on, in lower case
// and letters only (Check reads each password's letters and leet forms
// before looking it up): the top of public breach lists that survive
// MinLength once decorated with digits, in French and English, plus the
// names of this service. Check's other rules catch runs and repetitions.
var blocked = func() map[string]bool {
	m := make(map[string]bool)
	for _, w := range strings.Fields(blockList) {
		m[w] = true
	}
	return m
}()

const blockList = `
password passwort passw motdepasse mdp azerty qwerty qwertz azertyuiop qwertyuiop
admin administrateur administrator root toor user utilisateur test guest invite
welcome bienvenue changeme changemoi letmein login connexion secret secure securite
iloveyou jetaime jetadore teamo ichliebedich amour monamour mylove chouchou doudou
loulou bebe cheri cherie coucou bonjour bonsoir salut hello soleil lune etoile
princesse princess prince dragon monkey shadow master superman batman spiderman
pokemon naruto starwars football soccer baseball basketball hockey rugby tennis
marseille paris lyon toulouse bordeaux lille nantes nice france french francais
olympiquedemarseille psg liverpool arsenal chelsea barcelona realmadrid juventus
sunshine flower fleur papillon chocolat chocolate cookie biscuit pizza
nicolas thomas julien camille marie sophie pierre jean michel alexandre antoine
maxime lucas hugo louis emma lea chloe manon sarah laura julie celine nathalie
jordan michael jennifer jessica ashley daniel charlie andrew joshua matthew
computer ordinateur internet google facebook apple samsung microsoft windows
freedom liberte egalite fraternite republique whatever trustno blink abc
coffre coffrecloud franceconnect franceconnectplus impots ameli laposte
`
